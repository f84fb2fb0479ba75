import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shortenPath } from '../../src/symbolize/short-paths.js';

describe('short source paths', () => {
  test('a module of an installed package is named from the package', () => {
    assert.equal(shortenPath('/usr/lib/python3/dist-packages/numpy/core/fromnumeric.py', null), 'numpy/core/fromnumeric.py');
    assert.equal(shortenPath('/srv/venv/lib/python3.11/site-packages/flask/app.py', '/srv'), 'flask/app.py');
  });

  test('the innermost packages directory wins (a venv inside a package tree)', () => {
    assert.equal(shortenPath('/opt/site-packages/tool/venv/lib/python3.12/site-packages/requests/api.py', null), 'requests/api.py');
  });

  test('the standard library of any prefix is named from the library', () => {
    assert.equal(shortenPath('/usr/lib/python3.11/threading.py', null), 'threading.py');
    assert.equal(shortenPath('/root/.pyenv/versions/3.13.1/lib/python3.13/json/decoder.py', '/root'), 'json/decoder.py');
    assert.equal(shortenPath('/opt/py/lib/python3.13t/asyncio/events.py', null), 'asyncio/events.py');
    assert.equal(shortenPath('/usr/lib64/python3.9/socket.py', null), 'socket.py');
  });

  test("the application's files are relative to its working directory", () => {
    assert.equal(shortenPath('/srv/app/handlers/users.py', '/srv/app'), 'handlers/users.py');
    assert.equal(shortenPath('/srv/app/handlers/users.py', '/srv/app/'), 'handlers/users.py');
  });

  test('anything else keeps its full path', () => {
    assert.equal(shortenPath('/srv/app/main.py', '/home/user'), '/srv/app/main.py');
    assert.equal(shortenPath('/srv/application/main.py', '/srv/app'), '/srv/application/main.py');
    assert.equal(shortenPath('/srv/app/main.py', '/'), '/srv/app/main.py');
    assert.equal(shortenPath('/srv/app/main.py', null), '/srv/app/main.py');
  });

  test('pseudo-files and relative names are left alone', () => {
    assert.equal(shortenPath('<frozen importlib._bootstrap>', '/'), '<frozen importlib._bootstrap>');
    assert.equal(shortenPath('<string>', '/srv'), '<string>');
    assert.equal(shortenPath('app.py', '/srv'), 'app.py');
  });

  test('a directory name alone is not shortened to nothing', () => {
    assert.equal(shortenPath('/usr/lib/python3/dist-packages/', null), '/usr/lib/python3/dist-packages/');
    assert.equal(shortenPath('/srv/app/', '/srv/app'), '/srv/app/');
  });
});

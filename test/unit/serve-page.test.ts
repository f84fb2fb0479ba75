/** The serve page's script is a template literal: a stray escape there breaks it silently. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { pageHtml } from '../../src/serve/page.js';

test('the page\'s script parses, and its regular expressions kept their backslashes', () => {
  const html = pageHtml();
  const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1];
  assert.ok(script, 'one inline script');
  assert.doesNotThrow(() => new Script(script, { filename: 'page.js' }));
  // Every \d in a regular expression literal came through as \d, not "d".
  assert.ok(!/\/\^?\(?d[+{]/.test(script), 'a \\d lost its backslash');
  assert.match(script, /\/\^\(\\d\+\)_\(\\d\+\)\$\//);
});

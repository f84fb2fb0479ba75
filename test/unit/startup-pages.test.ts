/** When a long run gives back the pages it is not using: once settled, then once a minute. */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { RELEASE_EVERY_MS, STARTUP_SETTLE_MS, releaseStartupPagesLater } from '../../src/sample/startup-pages.js';

test('released once settled, then at every interval, and no more once cancelled', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    let releases = 0;
    const cancel = releaseStartupPagesLater(STARTUP_SETTLE_MS, RELEASE_EVERY_MS, () => releases++);
    mock.timers.tick(STARTUP_SETTLE_MS - 1);
    assert.equal(releases, 0);
    mock.timers.tick(1);
    assert.equal(releases, 1);
    mock.timers.tick(RELEASE_EVERY_MS - 1);
    assert.equal(releases, 1);
    mock.timers.tick(1);
    assert.equal(releases, 2);
    mock.timers.tick(RELEASE_EVERY_MS);
    assert.equal(releases, 3);
    cancel();
    mock.timers.tick(10 * RELEASE_EVERY_MS);
    assert.equal(releases, 3);
  } finally {
    mock.timers.reset();
  }
});

test('without an interval, released once; cancelled before it, never', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    let releases = 0;
    releaseStartupPagesLater(1000, null, () => releases++);
    const cancelled = releaseStartupPagesLater(1000, RELEASE_EVERY_MS, () => (releases += 100));
    cancelled();
    mock.timers.tick(10 * RELEASE_EVERY_MS);
    assert.equal(releases, 1);
  } finally {
    mock.timers.reset();
  }
});

/**
 * Device sizes on the command line (cli/device-size.ts): what parses, to how many bytes, and
 * what is refused with which sentence. `run --device-size` as a process is in run.test.ts.
 */
import { parseDeviceSize } from '../../cli/device-size';
import { DEFAULT_DEVICE_BYTES } from '../../core/limits';
import { MAX_FS_DEVICE_BYTES_EXCLUSIVE, MIN_FS_DEVICE_BYTES } from '../../fs/geometry';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

test.each([
  ['16M', 16 * MiB], ['16m', 16 * MiB], ['64MiB', 64 * MiB], ['64MB', 64 * MiB], ['1G', GiB], ['1GiB', GiB], ['1gib', GiB],
  ['16384K', 16 * MiB], ['16777216', 16 * MiB], [' 512M ', 512 * MiB], ['16383M', 16383 * MiB], [String(DEFAULT_DEVICE_BYTES), DEFAULT_DEVICE_BYTES],
])('%j is %d bytes', (text, bytes) => {
  expect(parseDeviceSize(text)).toEqual({ bytes });
});

test.each([
  ['', /expected a size such as 16M/], ['big', /expected a size such as 16M/], ['1.5G', /expected a size such as 16M/],
  ['-16M', /expected a size such as 16M/], ['16 M', /expected a size such as 16M/], ['0x1000000', /expected a size such as 16M/],
  ['15M', /at least 16M and less than 16G/], ['0', /at least 16M and less than 16G/], ['16G', /at least 16M and less than 16G/],
  ['1T', /at least 16M and less than 16G/], ['99999999999999999999', /at least 16M and less than 16G/],
  [String(MIN_FS_DEVICE_BYTES + 1), /whole number of 4096-byte pages/],
])('%j is refused', (text, problem) => {
  const parsed = parseDeviceSize(text);
  expect('problem' in parsed && parsed.problem).toMatch(problem);
});

test('the range is the one mkfs supports', () => {
  expect(parseDeviceSize(String(MIN_FS_DEVICE_BYTES))).toEqual({ bytes: MIN_FS_DEVICE_BYTES });
  expect(parseDeviceSize(String(MAX_FS_DEVICE_BYTES_EXCLUSIVE - 4096))).toEqual({ bytes: MAX_FS_DEVICE_BYTES_EXCLUSIVE - 4096 });
  expect(parseDeviceSize(String(MAX_FS_DEVICE_BYTES_EXCLUSIVE))).toHaveProperty('problem');
});

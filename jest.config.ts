/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// @swc/jest does not type-check; `npm test` runs `tsc --noEmit` first.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', {}] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  // Jest's default under --ci is one worker less than the cores (one worker on CI's 2 cores);
  // the suites are CPU-bound and independent, so use every core.
  maxWorkers: '100%',
  // longest files first, also on a clean checkout with no timing cache (CI)
  testSequencer: '<rootDir>/test/setup/sequencer.js',
  // dist/ is the build `npm pack` makes (test/packaging): never a test, never a module to resolve
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

export default config;

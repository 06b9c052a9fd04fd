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
};

export default config;

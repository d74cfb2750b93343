// One Temporal dev server and one database for the whole run: see test/setup.ts.
module.exports = {
  require: ['tsx/cjs'],
  spec: ['test/**/*.test.ts'],
  file: ['test/setup.ts'],
  timeout: 60000,
  forbidOnly: Boolean(process.env.CI),
  exit: true,
};

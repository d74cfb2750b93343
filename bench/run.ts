/**
 * `npm run bench`: runs every bench/*.bench.ts in turn (or those named on the command line). Benchmarks
 * report ratios against baselines measured in the same run; they are not tests.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

async function main() {
  const only = process.argv.slice(2);
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.includes(o)))).sort();
  for (const file of files) {
    console.log(`\n=== ${file}`);
    const mod = (await import(join(__dirname, file))) as { run: () => Promise<void> };
    await mod.run();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});

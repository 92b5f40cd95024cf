/**
 * `npm run bench`: every benchmark, one after another. Figures only; nothing is asserted.
 * Each one also runs alone: `node dist/bench/<name>.bench.js`.
 */
const benches = ['core', 'esdb-server', 'worker', 'replay'];
for (const name of benches) {
  const module = (await import(`./${name}.bench.js`).catch((error: unknown) => {
    console.log(`== ${name}: not available (${(error as Error).message}) ==`);
    return undefined;
  })) as { run?: () => Promise<void> } | undefined;
  if (module?.run === undefined) continue;
  const t0 = performance.now();
  await module.run();
  console.log(`(${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}

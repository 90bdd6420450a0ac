/**
 * Ways to build a plain object of N keys (node ids), as the join's `deps`
 * and the run's outputs are built (issue 16, targets 5 and 6): the median
 * time per key of each, and the minor page faults and system time per
 * object. Past a few thousand keys the object is a dictionary whose hash
 * table, once over 128 KB, lives in V8's large-object space: mapped afresh
 * for each object, and touched twice over as it grows by doubling. On a VM
 * where a page fault costs about 10 µs, that is half the time.
 *
 *   node --expose-gc bench/probes/dict-build.mjs [n=10000] [rounds=60]
 *
 * @module
 */
const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 60);
if (!(Number.isInteger(n) && n > 0 && Number.isInteger(rounds) && rounds > 0)) throw new Error("dict-build: n and rounds are positive integers");
const ids = Array.from({ length: n }, (_, i) => `n${i}`);
const values = ids.map((_, i) => ({ i }));
const template = {};
for (const id of ids) template[id] = undefined;
const templateText = JSON.stringify(Object.fromEntries(ids.map((id) => [id, 0])));

/** Each way builds `{ [ids[i]]: values[i] }` for every i, in order. */
const ways = {
  "assignment in a loop": () => {
    const o = {};
    for (let i = 0; i < n; i++) o[ids[i]] = values[i];
    return o;
  },
  "Object.create(null), then the loop": () => {
    const o = Object.create(null);
    for (let i = 0; i < n; i++) o[ids[i]] = values[i];
    return o;
  },
  "a Map (not a plain object)": () => {
    const o = new Map();
    for (let i = 0; i < n; i++) o.set(ids[i], values[i]);
    return o;
  },
  "Object.fromEntries": () => Object.fromEntries(ids.map((id, i) => [id, values[i]])),
  "JSON.parse of the keys, then the loop": () => {
    const o = JSON.parse(templateText);
    for (let i = 0; i < n; i++) o[ids[i]] = values[i];
    return o;
  },
  "Object.assign({}, template), then the loop": () => {
    const o = Object.assign({}, template);
    for (let i = 0; i < n; i++) o[ids[i]] = values[i];
    return o;
  },
  "{ ...template }, then the loop": () => {
    const o = { ...template };
    for (let i = 0; i < n; i++) o[ids[i]] = values[i];
    return o;
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [name, build] of Object.entries(ways)) {
  build();
  const times = [];
  const faults0 = process.resourceUsage().minorPageFault;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    build();
    times.push(performance.now() - t);
  }
  const faults = (process.resourceUsage().minorPageFault - faults0) / rounds;
  const systemMs = process.cpuUsage(cpu0).system / 1000 / rounds;
  const ms = median(times);
  console.log(
    `${name.padEnd(44)} ${ms.toFixed(3).padStart(9)} ms  ${((ms * 1e6) / n).toFixed(0).padStart(5)} ns/key  ` +
      `${faults.toFixed(0).padStart(6)} faults, ${systemMs.toFixed(2)} ms system per object`,
  );
}

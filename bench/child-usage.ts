/**
 * `node --import child-usage.js SCRIPT ...`: preloaded into a child whose resources the bench
 * reads (bench/sim.ts). At exit it prints, on stderr, the process's peak resident set size as
 * the kernel counts it (`getrusage`'s ru_maxrss) and the CPU time it used, user and system:
 * `child-usage: max-rss-kib N cpu-ms M`. Node offers no way to read a child's resource usage
 * from its parent.
 */
process.on('exit', () => {
  const usage = process.resourceUsage();
  const cpuMs = Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000);
  process.stderr.write(`child-usage: max-rss-kib ${usage.maxRSS} cpu-ms ${cpuMs}\n`);
});

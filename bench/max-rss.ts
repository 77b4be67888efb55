/**
 * `node --import max-rss.js SCRIPT ...`: preloaded into a child whose peak memory the bench
 * reads (bench/sim.ts). At exit it prints the process's peak resident set size, as the kernel
 * counts it (`getrusage`'s ru_maxrss), on stderr as `max-rss-kib: N`: Node offers no way to read
 * a child's resource usage from its parent.
 */
process.on('exit', () => {
  process.stderr.write(`max-rss-kib: ${process.resourceUsage().maxRSS}\n`);
});

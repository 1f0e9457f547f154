// Benchmarks print figures; targets are checked by reading them, never by timed tests.
// The master-scan, redirector, check-in and crawler benchmarks arrive with those features.
console.log("no benchmarks yet")

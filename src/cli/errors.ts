// Errors the command line reports in one line with exit code 2 (a usage error: bad option, file, profile).
export class UsageError extends Error {}

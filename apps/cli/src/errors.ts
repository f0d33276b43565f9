/** An error in what the user gave us (a file, a flag, a series): printed plainly, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

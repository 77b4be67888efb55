/**
 * A deadline on a promise, for tests and scripts (not for node code, which schedules through its
 * injected Clock): rejects when `promise` has not settled after `ms`, so a hang fails fast, with
 * a name.
 */
export function within<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

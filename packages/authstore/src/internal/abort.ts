import { invalid } from './names.js'

/** `signal` when it is an `AbortSignal` (or undefined); anything else is a bad option. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined
  if (!(signal instanceof AbortSignal)) throw invalid('option `signal` must be an AbortSignal')
  return signal
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts. The work behind
 * `promise` goes on (a refresh other callers share); only this caller stops waiting.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

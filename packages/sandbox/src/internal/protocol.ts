/** The first message to a plugin child: what to run and with what. */
export interface InitMessage {
  readonly t: 'init'
  readonly tier: 'isolated' | 'node'
  /** The real path of the plugin's main module. */
  readonly main: string
  /** The granted env (values, or `${env.NAME}` references). */
  readonly env: Readonly<Record<string, string>>
  /** QuickJS's own (soft) memory limit. */
  readonly memoryBytes: number
  /** QuickJS's own (soft) interrupt deadline per call. */
  readonly callTimeoutMs: number
}

/** Messages from the host to a plugin child. */
export type HostMessage =
  | InitMessage
  | { readonly t: 'call'; readonly id: number; readonly name: string; readonly args: string }
  | { readonly t: 'answer'; readonly id: number; readonly ok: boolean; readonly value: string }

/** Messages from a plugin child to the host. */
export type ChildMessage =
  | { readonly t: 'ready'; readonly tools: readonly string[] }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'result'; readonly id: number; readonly ok: boolean; readonly value: string }
  /** The call ran past its deadline inside the child (the host ends the process). */
  | { readonly t: 'timeout'; readonly id: number }
  | {
      readonly t: 'op'
      readonly id: number
      readonly op: 'fetch' | 'secrets' | 'log'
      readonly payload: string
      /** The tool whose call made the request ('' outside a call). */
      readonly tool: string
    }

// The parent side of the race tests: several child processes that import a snapshot of the BUILT
// packages (as a user's programs would) race on one store while the test process serves the
// provider. One set-up instead of a copy in every race test: the snapshot in a temporary
// directory (beforeAll), the children forked with the test's environment and waited for until
// each says it is ready, and everything killed and removed afterwards (afterAll), even when the
// test failed half-way. The child side is `serveParent` in _ipc-child.mjs.
import { type ChildProcess, fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { askEach, assertBuilt, nextMessage, snapshotBuilt } from './_built.js'

/** Options of {@link useRaceChildren}. */
export interface RaceChildrenOptions {
  /** The packages the children import (`core`, `authstore`, …): checked built, then snapshotted. */
  readonly packages: readonly string[]
  /** The child script (`new URL('./_race-child.mjs', import.meta.url)`). */
  readonly child: URL
  /** Prefix of the temporary directory's name (`keyward-oauth-race-`). */
  readonly prefix: string
}

/** Child processes of one race: started, asked, told to exit, killed. */
export interface Racers {
  /** The children started so far, in order. */
  readonly children: readonly ChildProcess[]
  /**
   * Forks `count` children with `args` and this process's environment plus `env` (stdout and
   * stderr inherited), and resolves once every one of them has sent its ready message.
   */
  start(
    count: number,
    args: readonly string[],
    env?: Readonly<Record<string, string>>,
  ): Promise<ChildProcess[]>
  /** Sends `message` to every child started and resolves with their answers, in order. */
  ask<T>(message: unknown): Promise<T[]>
  /** Asks every child to exit (`{ type: 'exit' }`: each runs its clean-up and disconnects). */
  exit(): void
  /** Kills every child still running. */
  kill(): void
}

/** The children of one race test file (see {@link useRaceChildren}). */
export interface RaceChildren extends Racers {
  /** The temporary directory (snapshot inside; the test may keep its files here too). */
  readonly dir: string
  /**
   * Another set of children of the same snapshot, started, asked and told to exit apart from
   * these (for a second race in the file: `ask` reaches only the set's own children); killed in
   * the same `afterAll`.
   */
  group(): Racers
}

/**
 * Child processes running `script` (a child script inside a snapshot of the built packages, as
 * `snapshotBuilt` returns it), for a race outside vitest (a benchmark) or inside it.
 */
export function racers(script: () => string): Racers {
  const children: ChildProcess[] = []
  return {
    children,
    async start(count, args, env = {}) {
      const started = Array.from({ length: count }, () =>
        fork(script(), [...args], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      )
      children.push(...started)
      await Promise.all(started.map((child) => nextMessage(child)))
      return started
    },
    ask: (message) => askEach(children, message),
    exit() {
      for (const child of children) if (child.connected) child.send({ type: 'exit' })
    },
    kill() {
      for (const child of children) if (child.exitCode === null) child.kill()
    },
  }
}

/**
 * Registers the set-up and clean-up of a race test file's child processes (call it at the top
 * level of the file or of a `describe`): in `beforeAll` it checks that `packages` are built and
 * snapshots them with the child script into a temporary directory; in `afterAll` it kills every
 * child still running and removes the directory.
 */
export function useRaceChildren(options: RaceChildrenOptions): RaceChildren {
  let dir = ''
  let script = ''
  const children = racers(() => script)
  const groups: Racers[] = [children]
  beforeAll(async () => {
    assertBuilt(options.packages)
    dir = await mkdtemp(join(tmpdir(), options.prefix))
    script = await snapshotBuilt(dir, options.packages, options.child)
  })
  afterAll(async () => {
    for (const group of groups) group.kill()
    if (dir) await rm(dir, { recursive: true, force: true })
  })
  return {
    get dir() {
      if (dir === '') throw new Error('useRaceChildren: the snapshot is made in beforeAll')
      return dir
    },
    ...children,
    children: children.children,
    group() {
      const group = racers(() => script)
      groups.push(group)
      return group
    },
  }
}

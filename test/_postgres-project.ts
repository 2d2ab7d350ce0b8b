// globalSetup of the `<pkg>-pg` projects (vitest.shared.ts `postgresProjectConfig`): one
// throwaway PostgreSQL cluster per project, its URL provided to the tests
// (`inject('keywardPostgresUrl')`, read by test/_driver.ts), stopped when the project ends. With
// CI set a missing server fails the run; locally the project's tests skip with the reason
// (test/_postgres-suite.ts).
import type { TestProject } from 'vitest/node'
import { postgresTestEnv, startPostgres } from './_postgres.js'

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  if (!postgresTestEnv(`the ${project.name} project`).available) {
    project.provide('keywardPostgresUrl', '')
    return
  }
  const cluster = await startPostgres()
  project.provide('keywardPostgresUrl', cluster.url)
  return () => cluster.stop()
}

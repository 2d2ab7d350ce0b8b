import type { CollectionRec, EnvironmentRec, Rec, SecretRec } from './records.js'

/** One consistent, decrypted view of a vault, indexed for lookups. @internal */
export class Snapshot {
  readonly collections = new Map<string, { rec: CollectionRec; dv: number }>()
  readonly collectionsBySlug = new Map<string, CollectionRec>()
  readonly environments = new Map<string, { rec: EnvironmentRec; dv: number }>()
  /** `<collectionId>/<slug>` → environment. */
  readonly environmentsBySlug = new Map<string, EnvironmentRec>()
  readonly secrets = new Map<string, { rec: SecretRec; dv: number }>()
  /** `<collectionId>\0<environmentId or ''>\0<name>` → secret. */
  readonly secretsByName = new Map<string, SecretRec>()

  constructor(
    /** Driver version of the head record this view was read at (0: empty vault). */
    public head: number,
  ) {}

  static nameKey(collectionId: string, environmentId: string | null, name: string): string {
    return `${collectionId}\0${environmentId ?? ''}\0${name}`
  }

  put(rec: Rec, dv: number): void {
    if (rec.kind === 'collection') {
      this.collections.set(rec.id, { rec, dv })
      this.collectionsBySlug.set(rec.slug, rec)
    } else if (rec.kind === 'environment') {
      this.environments.set(rec.id, { rec, dv })
      this.environmentsBySlug.set(`${rec.collectionId}/${rec.slug}`, rec)
    } else {
      const previous = this.secrets.get(rec.id)?.rec
      if (previous)
        this.secretsByName.delete(
          Snapshot.nameKey(previous.collectionId, previous.environmentId, previous.name),
        )
      this.secrets.set(rec.id, { rec, dv })
      this.secretsByName.set(Snapshot.nameKey(rec.collectionId, rec.environmentId, rec.name), rec)
    }
  }

  removeSecret(id: string): void {
    const previous = this.secrets.get(id)?.rec
    if (!previous) return
    this.secrets.delete(id)
    this.secretsByName.delete(
      Snapshot.nameKey(previous.collectionId, previous.environmentId, previous.name),
    )
  }

  environment(collectionId: string, slug: string): EnvironmentRec | undefined {
    return this.environmentsBySlug.get(`${collectionId}/${slug}`)
  }

  /**
   * The secret `name` as seen from environment `envSlug` of a collection: the environment's
   * own secret of that name, else the untagged one. An environment the collection does not
   * have sees only untagged secrets; `null` sees only untagged secrets.
   */
  lookup(collectionId: string, envSlug: string | null, name: string): SecretRec | undefined {
    if (envSlug !== null) {
      const env = this.environment(collectionId, envSlug)
      const own = env && this.secretsByName.get(Snapshot.nameKey(collectionId, env.id, name))
      if (own) return own
    }
    return this.secretsByName.get(Snapshot.nameKey(collectionId, null, name))
  }

  /** Every secret visible in an environment of a collection, by name (sorted). */
  visible(collectionId: string, environmentId: string | null): Map<string, SecretRec> {
    const untagged = new Map<string, SecretRec>()
    const own = new Map<string, SecretRec>()
    for (const { rec } of this.secrets.values()) {
      if (rec.collectionId !== collectionId) continue
      if (rec.environmentId === null) untagged.set(rec.name, rec)
      else if (rec.environmentId === environmentId) own.set(rec.name, rec)
    }
    for (const [name, rec] of own) untagged.set(name, rec)
    return new Map([...untagged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
}

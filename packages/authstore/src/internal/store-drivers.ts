import type { Driver } from '@keyward/core'

/** The driver and namespace of each AuthStore, for `componentDriver` (set by the constructor). */
export const storeDrivers = new WeakMap<object, { driver: Driver; namespace: string }>()

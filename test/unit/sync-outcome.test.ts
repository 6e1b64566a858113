import { describe, expect, it } from 'vitest'
import { requireAnyVendorSynced, SyncFailedError, type SyncSummary } from '../../core/vendors/sync.js'

const summary = (...statuses: ('ok' | 'error' | 'superseded')[]): SyncSummary => ({
  startedAt: new Date(0).toISOString(),
  durationMs: 1,
  vendors: statuses.map((status, i) => ({
    vendorId: `v${i}`,
    status,
    skus: status === 'error' ? 0 : 3,
    durationMs: 1,
    ...(status === 'error' ? { error: 'HTTP 503' } : {}),
  })),
})

describe('the outcome of a scheduled sync', () => {
  it('fails when no vendor could be read, naming each vendor and its error', () => {
    // Prepare
    const allDown = summary('error', 'error')

    // Act
    const run = () => requireAnyVendorSynced(allDown)

    // Assess
    expect(run).toThrow(SyncFailedError)
    expect(run).toThrow('no vendor could be read: v0: HTTP 503; v1: HTTP 503')
  })

  it('succeeds when at least one vendor was read or superseded', () => {
    expect(requireAnyVendorSynced(summary('error', 'ok'))).toEqual(summary('error', 'ok'))
    expect(requireAnyVendorSynced(summary('superseded', 'error')).vendors).toHaveLength(2)
  })

  it('succeeds when there is no vendor to read', () => {
    expect(requireAnyVendorSynced(summary()).vendors).toEqual([])
  })
})

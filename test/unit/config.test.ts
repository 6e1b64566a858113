import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../core/config.js'

describe('loadConfig', () => {
  it('works on a bare machine: embedded database, in-process queue, three mock vendors on the local port', () => {
    const config = loadConfig({})

    expect(config.port).toBe(3000)
    expect(config.databaseUrl).toBeUndefined()
    expect(config.amqpUrl).toBeUndefined()
    expect(config.syncIntervalMs).toBe(10_000)
    expect(config.vendors.map((v) => v.id)).toEqual(['acme', 'globex', 'initech'])
    expect(config.vendors[0]!.baseUrl).toBe('http://127.0.0.1:3000/mock-vendors/acme')
  })

  it('derives the mock vendor URLs from PORT', () => {
    expect(loadConfig({ PORT: '4100' }).vendors[1]!.baseUrl).toBe('http://127.0.0.1:4100/mock-vendors/globex')
  })

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', AMQP_URL: '' }).databaseUrl).toBeUndefined()
  })

  it('stops with a message that names every malformed variable', () => {
    const attempt = () => loadConfig({ PORT: 'eighty', SYNC_INTERVAL_MS: '-5', DATABASE_URL: 'not a url' })

    expect(attempt).toThrow(ConfigError)
    try {
      attempt()
    } catch (error) {
      const problems = (error as ConfigError).problems.map((p) => p.variable)
      expect(problems).toEqual(expect.arrayContaining(['PORT', 'SYNC_INTERVAL_MS', 'DATABASE_URL']))
      expect((error as Error).message).toMatch(/PORT: .*; /)
    }
  })

  it('reads a vendor list from VENDORS and rejects a malformed one by name', () => {
    const vendors = JSON.stringify([{ id: 'real-1', name: 'Real', baseUrl: 'https://vendor.example/api' }])
    expect(loadConfig({ VENDORS: vendors }).vendors).toEqual([
      { id: 'real-1', name: 'Real', baseUrl: 'https://vendor.example/api' },
    ])
    expect(() => loadConfig({ VENDORS: '[{"id":"x"}]' })).toThrow(/VENDORS/)
    expect(() => loadConfig({ VENDORS: 'nope' })).toThrow(/VENDORS/)
  })
})

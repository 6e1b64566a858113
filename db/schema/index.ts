export * from './inventory.js'
export * from './messaging.js'
export * from './mock-vendor.js'
export * from './orders.js'

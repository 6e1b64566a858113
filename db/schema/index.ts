export * from './inventory.js'
export * from './messaging.js'
export * from './orders.js'

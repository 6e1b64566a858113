import type { ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { ChannelAcks } from '../../core/messaging/amqp-bus.js'

const message = (deliveryTag: number) => ({ fields: { deliveryTag } }) as ConsumeMessage

/** The frames a channel was asked to send: `ack 7+` acknowledges every delivery up to 7. */
function harness(delivered: number) {
  const frames: string[] = []
  const acks = new ChannelAcks({
    ack: (m, allUpTo) => frames.push(`ack ${m.fields.deliveryTag}${allUpTo ? '+' : ''}`),
  })
  const messages = Array.from({ length: delivered }, (_, i) => message(i + 1))
  for (const m of messages) acks.delivered(m)
  const turn = () => new Promise((resolve) => setImmediate(resolve))
  return { frames, acks, messages, turn }
}

describe('ChannelAcks', () => {
  it('acknowledges the deliveries settled in one turn with one frame when none below is at work', async () => {
    const { frames, acks, messages, turn } = harness(4)
    for (const m of messages.slice(0, 3).reverse()) acks.ack(m)
    expect(frames).toEqual([])
    await turn()
    expect(frames).toEqual(['ack 3+'])
    acks.ack(messages[3]!)
    await turn()
    expect(frames).toEqual(['ack 3+', 'ack 4'])
  })

  it('acknowledges one by one those above a delivery still at work, and never covers it', async () => {
    const { frames, acks, messages, turn } = harness(5)
    acks.ack(messages[0]!)
    acks.ack(messages[2]!)
    acks.ack(messages[3]!)
    await turn()
    // 2 is at work: a `multiple` at 3 or 4 would acknowledge it.
    expect(frames).toEqual(['ack 1', 'ack 3', 'ack 4'])
    acks.ack(messages[1]!)
    acks.ack(messages[4]!)
    await turn()
    // Nothing below is at work now: one frame up to 5 acknowledges 2 and 5 (3 and 4 already were).
    expect(frames).toEqual(['ack 1', 'ack 3', 'ack 4', 'ack 5+'])
  })

  it('holds back a multiple acknowledgement over a delivery waiting to be handed back', async () => {
    const { frames, acks, messages, turn } = harness(3)
    acks.ack(messages[1]!)
    acks.ack(messages[2]!)
    await turn()
    expect(frames).toEqual(['ack 2', 'ack 3'])
    acks.settle(messages[0]!, () => frames.push('nack 1'))
    expect(frames).toEqual(['ack 2', 'ack 3', 'nack 1'])
  })

  it('sends what waits when flushed before the end of the turn (a subscription stopping)', async () => {
    const { frames, acks, messages, turn } = harness(2)
    acks.ack(messages[0]!)
    acks.ack(messages[1]!)
    acks.flush()
    expect(frames).toEqual(['ack 2+'])
    // Nothing is sent twice when the turn ends.
    await turn()
    expect(frames).toEqual(['ack 2+'])
  })
})

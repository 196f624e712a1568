import { describe, expect, it } from 'vitest';
import { Slots } from '../src/processing/slots.js';

describe('slots', () => {
  it('a waiting taker gets the next slot given back, in order; drain tells the rest no', async () => {
    const slots = new Slots(1);
    expect(await slots.take()).toBe(true);
    const order: string[] = [];
    const second = slots.take().then((taken) => order.push(`second ${taken}`));
    const third = slots.take().then((taken) => order.push(`third ${taken}`));
    expect(slots.tryTake()).toBe(false);
    slots.give();
    await second;
    expect(slots.inUse).toBe(1);
    slots.drain();
    await third;
    expect(order).toEqual(['second true', 'third false']);
    slots.give();
    expect(slots.inUse).toBe(0);
  });
});

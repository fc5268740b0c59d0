import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { calculatePots, computeRake, splitPot } from "../../src/domain/potMath.ts"

describe("rake", () => {
  it("is floor(pot * bp / 10000), capped, and zero at or below the minimum pot", () => {
    const rules = { basisPoints: 500, capChips: 30, minPotChips: 100 }
    assert.strictEqual(computeRake(100, rules), 0)
    assert.strictEqual(computeRake(101, rules), 5)
    assert.strictEqual(computeRake(399, rules), 19)
    assert.strictEqual(computeRake(10_000, rules), 30)
    assert.strictEqual(computeRake(10_000, { ...rules, capChips: 0 }), 500)
    assert.strictEqual(computeRake(10_000, { basisPoints: 0, capChips: 0, minPotChips: 0 }), 0)
  })
  it("never rounds for pots near Number.MAX_SAFE_INTEGER", () => {
    const pot = Number.MAX_SAFE_INTEGER
    assert.strictEqual(computeRake(pot, { basisPoints: 10_000, capChips: 0, minPotChips: 0 }), pot)
    assert.strictEqual(computeRake(pot, { basisPoints: 1, capChips: 0, minPotChips: 0 }), 900719925474)
  })
})

describe("splitPot", () => {
  it("honours exact requests", () => {
    assert.deepStrictEqual(splitPot(800, [{ seatId: 2, requested: 500 }, { seatId: 1, requested: 300 }]), {
      amounts: [500, 300],
      normalised: false
    })
  })
  it("splits 3 chips two ways: the odd chip goes to the lowest seat", () => {
    assert.deepStrictEqual(splitPot(3, [{ seatId: 5, requested: 1 }, { seatId: 2, requested: 1 }]), {
      amounts: [1, 2],
      normalised: true
    })
  })
  it("normalises proportionally when requests do not match the pot", () => {
    // 95 after rake, requested 50/50 of the original 100
    assert.deepStrictEqual(splitPot(95, [{ seatId: 1, requested: 50 }, { seatId: 3, requested: 50 }]).amounts, [48, 47])
    assert.deepStrictEqual(splitPot(10, [{ seatId: 1, requested: 1 }, { seatId: 2, requested: 3 }]).amounts, [3, 7])
  })
  it("splits evenly when every request is zero", () => {
    assert.deepStrictEqual(splitPot(7, [{ seatId: 3, requested: 0 }, { seatId: 1, requested: 0 }, { seatId: 2, requested: 0 }]).amounts, [2, 3, 2])
  })
  it("always pays out exactly the distributable amount, nobody negative (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uniqueArray(fc.record({ seatId: fc.integer({ min: 0, max: 9 }), requested: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }), {
          minLength: 1,
          maxLength: 9,
          selector: (r) => r.seatId
        }),
        (distributable, requests) => {
          const { amounts } = splitPot(distributable, requests)
          assert.strictEqual(amounts.reduce((a, b) => a + b, 0), distributable)
          for (const a of amounts) assert.isTrue(Number.isSafeInteger(a) && a >= 0)
        }
      ),
      { numRuns: 2000 }
    )
  })
})

describe("calculatePots", () => {
  it("one pot when everybody put in the same", () => {
    assert.deepStrictEqual(calculatePots([{ seatId: 1, amount: 100 }, { seatId: 2, amount: 100 }], []), [
      { amount: 200, eligibleSeats: [1, 2] }
    ])
  })
  it("side pots with all-in players", () => {
    // seat 1 all-in for 50, seat 2 all-in for 150, seats 3 and 4 put in 300
    const pots = calculatePots(
      [{ seatId: 1, amount: 50 }, { seatId: 2, amount: 150 }, { seatId: 3, amount: 300 }, { seatId: 4, amount: 300 }],
      []
    )
    assert.deepStrictEqual(pots, [
      { amount: 200, eligibleSeats: [1, 2, 3, 4] },
      { amount: 300, eligibleSeats: [2, 3, 4] },
      { amount: 300, eligibleSeats: [3, 4] }
    ])
  })
  it("folded chips count, folded seats never win", () => {
    const pots = calculatePots(
      [{ seatId: 1, amount: 100 }, { seatId: 2, amount: 40 }, { seatId: 3, amount: 100 }, { seatId: 2, amount: 10 }],
      [3]
    )
    assert.deepStrictEqual(pots, [
      { amount: 150, eligibleSeats: [1, 2] },
      { amount: 100, eligibleSeats: [1] }
    ])
  })
  it("the pots always add up to every chip put in (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ seatId: fc.integer({ min: 1, max: 6 }), amount: fc.integer({ min: 1, max: 10_000 }) }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 6 })),
        (contributions, folded) => {
          const pots = calculatePots(contributions, folded)
          assert.strictEqual(pots.reduce((s, p) => s + p.amount, 0), contributions.reduce((s, c) => s + c.amount, 0))
          for (const p of pots) for (const seat of p.eligibleSeats) assert.isFalse(folded.includes(seat))
        }
      ),
      { numRuns: 1000 }
    )
  })
})

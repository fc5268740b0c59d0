import { makeFaultyStore } from "./faultyStore.ts"

/** A memory store that a test can take down and bring back, to exercise degraded mode without sleeping. */
export const makeSwitchableStore = () => {
  const faulty = makeFaultyStore()
  return {
    layer: faulty.layer,
    down: () => faulty.set("down"),
    up: () => faulty.set("none")
  }
}

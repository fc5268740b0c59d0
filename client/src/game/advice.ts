import type { Movement } from "./movements.ts"

/**
 * What the operator should do about a journaled movement the service refused
 * on replay. The rule behind every line: the game already played with these
 * chips; the service refused them because they did not exist on the books. The
 * fix is a decision about real money, never an automatic grant.
 */
export const adviceFor = (m: Movement, code: string): string => {
  const who = "accountId" in m ? `${m.accountId} at table ${m.tableId}` : `table ${m.tableId}`
  switch (`${m.kind}:${code}`) {
    case "buy-in:INSUFFICIENT_BALANCE":
      return `${who} was seated offline with ${m.kind === "buy-in" ? m.amount : 0} chips the wallet could not cover: those chips exist only in the game. ` +
        "Do not deposit them to make the books agree. Recover them from the player's stack (cash the player out for what the service's stack holds) " +
        "or, if the house accepts the loss, grant them explicitly with an admin Deposit (source RECONCILIATION) and run `balance-reconcile retry <journalDir> <id>`."
    case "buy-in:ACCOUNT_NOT_FOUND":
    case "contribution:ACCOUNT_NOT_FOUND":
      return `${who}: the wallet does not exist on the service. Create it (EnsureAccount, no initial balance) and run \`balance-reconcile retry <journalDir> <id>\`.`
    case "contribution:INSUFFICIENT_STACK":
      return `${who} bet chips the service's stack does not hold: an earlier movement at this table was refused (see above). ` +
        "Resolve that one first, then `balance-reconcile retry <journalDir> <id>`; the hand's pot on the service is short by this amount until then."
    case "cash-out:INSUFFICIENT_STACK":
      return `${who} was paid out more than the service's stack holds (an earlier refusal at this table, or a pot the service settled smaller). ` +
        "The wallet was NOT credited. Check the table's refused entries, settle the difference by hand, then `balance-reconcile retry <journalDir> <id>`."
    case "settle:POT_NOT_FOUND":
      return `${who}: the hand's pot never existed on the service (its contributions were refused or never sent). Resolve the contributions, then retry.`
    case "settle:POT_NOT_ACTIVE":
    case "cancel:POT_NOT_ACTIVE":
      return `${who}: the hand was already settled or cancelled on the service by another path. Compare the pot (GetPot) with the game's record of the hand.`
    default:
      return `${who}: the service refused it with ${code}. Compare the game's record with the service (GetTableStack, GetPot, GetBalance), ` +
        "correct the cause, then `balance-reconcile retry <journalDir> <id>`; never grant chips to make it pass."
  }
}

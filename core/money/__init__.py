"""Money: the double-entry ledger, balances, fees, pay-ins, withdrawals and payouts."""

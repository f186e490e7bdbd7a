//! The sender: works through a broadcast's send ledger so each person gets at most one copy.

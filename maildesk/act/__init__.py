"""What a decision does, inside the message's transaction: tickets, consultants' replies, contacts, held mail."""

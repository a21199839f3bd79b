"""Delivery: events, the outboxes and the queue that work them off, and the
ways out (messages built safely, the SMTP client, the operator's mail
server, customer mails, SMS gateways)."""

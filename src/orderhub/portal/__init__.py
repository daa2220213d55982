"""Customer portal: contacts of a customer sign in with a one-time code and see their own
orders; signed tracking links per order; the opens and inbound calls behind the self-query rate."""

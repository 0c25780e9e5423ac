"""Plans, entitlements, quotas and Stripe payment links."""

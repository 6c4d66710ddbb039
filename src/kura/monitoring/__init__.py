"""WhatsApp monitoring: verified Twilio webhook, immediate screening and reply, alerts,
and a debounced daily conversation analysis."""

"""Platform adapters: each turns one platform's payloads into the neutral model and back."""

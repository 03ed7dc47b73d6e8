"""The web console: pages for facilitators and admins, signed in through the chat platform."""

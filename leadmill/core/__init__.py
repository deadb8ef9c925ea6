"""Core: the base of every other app.

Holds the domain event bus and its outbox (:mod:`.events`), the registry through which apps
contribute parts to shared views such as the contact timeline (:mod:`.registry`), domain
errors (:mod:`.errors`), the health check and the middleware that turns an unreachable
database into a 503. Imports nothing from other Leadmill apps.
"""

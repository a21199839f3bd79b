"""The plugin contract: the hooks, the values they return, the plugin manager
that loads and checks plugins, and core's own hook implementations."""

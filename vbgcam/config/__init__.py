"""Settings: the schema with its defaults and checks, TOML and flag loading (``settings``),
the config file watched for changes (``watch``), and where vbgcam keeps its files
(``paths``)."""

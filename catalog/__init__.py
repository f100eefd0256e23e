"""The catalog: ingestion of music folders, the Chroma store, the demo catalog."""

"""Parts of the Map page (pages/map.py): what is shown about the map's honesty, and saving,
sharing and exporting it. Each part draws from one `MapView`."""

package deploy

// Category is the category of the responsibility matrix whose test
// requirements a suite kind's results count for. A migration suite proves
// that its component's data arrived intact, a functional property, so its
// results count as functional tests of that component; every other kind is
// its own category.
func Category(kind string) string {
	if kind == "migration" {
		return "functional"
	}
	return kind
}

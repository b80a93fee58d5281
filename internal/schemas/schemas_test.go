package schemas

import (
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// TestTheSchemasCompileAndReject makes sure a validator that accepted
// everything would be caught: each schema compiles, and a document that
// breaks it is refused with the place it breaks.
func TestTheSchemasCompileAndReject(t *testing.T) {
	for name, bad := range map[string]string{
		OSCALAssessmentResults: `{"assessment-results": {"uuid": "not-a-uuid", "metadata": {}, "import-ap": {"href": "run.json"}, "results": []}}`,
		SARIF:                  `{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(name); err != nil {
				if _, derr := Dir(); derr != nil {
					testdb.Unavailable(t, derr.Error())
				}
				t.Fatal(err)
			}
			err := Check(name, []byte(bad))
			if err == nil {
				t.Fatal("an invalid document validated")
			}
			if !strings.Contains(err.Error(), "/") {
				t.Errorf("the error does not point into the document: %v", err)
			}
		})
	}
}

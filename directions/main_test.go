package directions

import (
	"os"
	"testing"

	"github.com/ccplane/telephony/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.SilenceRedisLog()
	os.Exit(m.Run())
}

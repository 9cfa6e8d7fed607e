package main

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisOptions reads redis.url. The scheme says how Redis is deployed; what follows is
// the form that go-redis' parser for that deployment reads, with its query options
// (dial_timeout, pool_size, …; an unknown one is an error):
//
//	redis://[user:password@]host[:port][/db][?option=value…]           one server
//	rediss://…                                                          the same over TLS
//	redis+cluster://[user:password@]host[:port][?addr=host:port…]       Redis Cluster (redis.ParseClusterURL)
//	rediss+cluster://…                                                  the same over TLS
//	redis+sentinel://[suser:spassword@]host[:port][/db]?master_name=NAME[&addr=host:port…][&username=U&password=P]
//	rediss+sentinel://…                                                 Sentinel (redis.ParseFailoverURL), TLS to both
//
// A cluster URL names one node or more (host:port and each addr); the client finds the
// others. It has no database number: a Cluster has database 0 only. A Sentinel URL names
// the sentinels (host:port, default port 6379, so give 26379 explicitly, and each addr);
// its user information is the sentinels' credentials, username and password those of the
// master. Ports default to 6379.
//
// Neither handshake extra of go-redis is for us: CLIENT SETINFO needs Redis 7.2, and
// maintenance notifications are a Redis Enterprise feature; other servers answer both with
// an error at every connect, which telephony_redis_errors_total would count.
func redisOptions(raw string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, err
	}
	scheme, deployment, _ := strings.Cut(u.Scheme, "+")
	u.Scheme = scheme
	o := &redis.UniversalOptions{
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	var src any       // the options parsed
	var done []string // what of them is already in o
	switch deployment {
	case "":
		opt, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, err
		}
		if opt.Network != "tcp" {
			return nil, fmt.Errorf("network %s: want redis:// or rediss://", opt.Network)
		}
		o.Addrs = []string{opt.Addr}
		src, done = opt, []string{"Network", "Addr"}
	case "cluster":
		if strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("path %q: a cluster has no database number", u.Path)
		}
		opt, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, err
		}
		// Even with one address given: that node is where the client learns the others.
		o.IsClusterMode = true
		src = opt
	case "sentinel":
		opt, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, err
		}
		if opt.MasterName == "" {
			return nil, errors.New("a sentinel URL needs master_name")
		}
		o.Addrs, o.ReadOnly = opt.SentinelAddrs, opt.ReplicaOnly
		src, done = opt, []string{"SentinelAddrs", "ReplicaOnly"}
	default:
		return nil, fmt.Errorf("scheme %s+%s: want redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel",
			u.Scheme, deployment)
	}
	if err := copyOptions(o, src, done...); err != nil {
		return nil, err
	}
	return o, nil
}

// copyOptions copies into dst each field set in src (go-redis' Options, ClusterOptions or
// FailoverOptions) but those named in done, to the field of dst of the same name and type.
// A set field that dst has not is an error, so that no option of the URL is dropped
// unnoticed; by name, because the three types have the same names for what they share and
// new releases of go-redis add options to them.
func copyOptions(dst *redis.UniversalOptions, src any, done ...string) error {
	d := reflect.ValueOf(dst).Elem()
	s := reflect.ValueOf(src).Elem()
	for i := range s.NumField() {
		f := s.Type().Field(i)
		v := s.Field(i)
		if !f.IsExported() || v.IsZero() || slices.Contains(done, f.Name) {
			continue
		}
		to := d.FieldByName(f.Name)
		if !to.IsValid() || to.Type() != f.Type {
			return fmt.Errorf("option %s is not supported", f.Name)
		}
		to.Set(v)
	}
	return nil
}

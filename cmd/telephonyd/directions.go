package main

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/directions"
)

// openDirections opens the directions store (Redis when redis.url is set, process memory
// otherwise), seeds the gateways' configured allow/deny rules where the
// store has none yet (so changes made through the API survive a restart), and loads the
// cache. A gateway whose rules cannot be loaded refuses calls until they can; one with no
// rules dials nothing, and the log says so.
func openDirections(ctx context.Context, cfg fileConfig, client redis.UniversalClient, log *slog.Logger) (directions.Store, *directions.Cache) {
	var store directions.Store = directions.NewMemory()
	if client != nil {
		store = directions.NewRedis(client)
	}
	names := make([]string, 0, len(cfg.Gateways))
	for _, g := range cfg.Gateways {
		names = append(names, g.Name)
		if rules := g.seedRules(); len(rules) > 0 {
			seeded, err := store.Seed(ctx, g.Name, rules)
			if err != nil {
				log.Error("directions not seeded", "gateway_id", g.Name, "err", err)
			} else if seeded {
				log.Info("directions seeded from config", "gateway_id", g.Name, "rules", len(rules))
			}
		}
	}
	cache := directions.NewCache(directions.CacheConfig{Gateways: names, Logger: log}, store)
	if err := cache.Load(ctx); err != nil {
		log.Error("directions not loaded; those gateways refuse calls until they are", "err", err)
	}
	for _, name := range names {
		rules, _, err := store.Rules(ctx, name)
		if err == nil && len(rules) == 0 {
			log.Warn("gateway has no directions: it dials nothing until rules are set", "gateway_id", name)
		}
	}
	return store, cache
}

// Package redisstore is a certmagic.Storage on Redis, so that several
// flashgate instances share their ACME account, certificates and locks: the
// first instance to need a certificate orders it, the others wait on the
// shared lock and then load it from Redis.
//
// Layout. Every key the storage writes lives under one hash tag,
// "{PREFIX}", so a Redis Cluster keeps them in one slot and the Lua scripts
// stay legal:
//
//	{PREFIX}:v:KEY     a hash {value, modified (unix ms)}: one stored value
//	{PREFIX}:index     a sorted set (all scores 0) of every stored KEY,
//	                   read by lexical range: the key index behind List,
//	                   Exists and Delete of a "directory"
//	{PREFIX}:lock:NAME the lock NAME: a random token, with a lease (PX)
//
// Keys are slash-separated paths, as certmagic writes them. A key is
// terminal when a value is stored at it and a directory when other keys
// start with KEY + "/". List, Stat and Delete follow certmagic's FileStorage:
// List of a missing path is an fs.ErrNotExist error; a non-recursive List
// gives the direct children (terminal keys and directories), a recursive one
// every key and directory below; Delete removes a key and everything under
// it.
//
// Locks are SET NX PX with a random token and a lease (Config.LockLease,
// default 10 s). While a lock is held a goroutine renews the lease every
// lease/3; if the holder dies its lease runs out and another instance gets
// the lock. Lock polls with a capped, jittered backoff until it gets the
// lock or its context ends. Unlock deletes the lock only if it still holds
// this holder's token (a Lua compare-and-delete), so a holder whose lease
// ran out never releases the next holder's lock.
//
// Typical use:
//
//	st, err := redisstore.NewStorage(redisstore.Config{
//		Address:   "10.0.0.9:6379",
//		KeyPrefix: "flashgate",
//	})
//	if err != nil { ... }
//	defer st.Close()
//	term, err := tlsterm.NewTerminator(tlsterm.TermConfig{
//		ACMENames: names,
//		ACME:      &tlsterm.ACMEConfig{Email: email, Storage: st},
//	}, log)
package redisstore

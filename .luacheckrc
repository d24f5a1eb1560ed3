-- luacheck (https://github.com/lunarmodules/luacheck) for the Redis store's scripts:
--   luacheck memhead/stores/redis/lua
-- Redis runs Lua 5.1 with its own API. scripts.py puts keys.lua and listing.lua before the
-- scripts that use them (its PRELUDES), so their functions are defined there, used here.
std = "lua51"
read_globals = { "redis", "KEYS", "ARGV" }
local prelude = {
  "quote", "member", "embed_member", "search_tag", "user_tag", "FIELDS", "unlist", "enlist",
  "create",
}
files["memhead/stores/redis/lua/keys.lua"] = { unused = false }
files["memhead/stores/redis/lua/listing.lua"] = { unused = false, read_globals = prelude }
files["memhead/stores/redis/lua/append.lua"] = { read_globals = prelude }
files["memhead/stores/redis/lua/put_session.lua"] = { read_globals = prelude }
files["memhead/stores/redis/lua/delete.lua"] = { read_globals = prelude }
files["memhead/stores/redis/lua/import_session.lua"] = { read_globals = prelude }
files["memhead/stores/redis/lua/import_messages.lua"] = { read_globals = prelude }
files["memhead/stores/redis/lua/retag.lua"] = { read_globals = prelude }

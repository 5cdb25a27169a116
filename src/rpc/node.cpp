#include <node/context.h>
#include <rpc/server.h>

// help needs the table it describes.
static const RPCTable* g_table = nullptr;

void RegisterNodeRPCCommands(RPCTable& t)
{
    g_table = &t;
    t.Register({"Control",
                "help",
                "Lists all commands, or shows help for one.",
                {{"command", RPCArgType::Str, false, "The command to describe", 0, 0, 64}},
                "\"text\"",
                [](NodeContext&, const std::vector<json>& a) -> json {
                    return g_table->Help(a[0].is_null() ? "" : a[0].get<std::string>());
                }});
    t.Register({"Control",
                "getrpcschema",
                "Returns every command's declared arguments (name, type, whether required, range), so clients "
                "can generate calls and checks.",
                {},
                "{methods: [{name, category, args: [{name, type, required, min, max, maxlength}]}]}",
                [](NodeContext&, const std::vector<json>&) -> json { return g_table->Schema(); }});
    t.Register({"Control",
                "stop",
                "Stops the node.",
                {},
                "\"defid stopping\"",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    *node.shutdown = true;
                    return "defid stopping";
                }});
    t.Register({"Control",
                "uptime",
                "Returns the seconds since the node started.",
                {},
                "n (numeric)",
                [](NodeContext& node, const std::vector<json>&) -> json {
                    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                            node.started)
                        .count();
                }});
}

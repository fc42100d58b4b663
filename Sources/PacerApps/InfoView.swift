import PacerAppsCore
import PacerModel

/// `GET /v2/info` in Marathon's shape: every key Marathon sends, with Pacer's values where Pacer has
/// the setting (timeouts, ports, the master) and Marathon's defaults for what Pacer does not do.
/// `zookeeper_config` names Pacer's state store (etcd or SQLite) with ZooKeeper's key names, which is
/// the role ZooKeeper plays for Marathon. With `embed=pacer`: the leadership term and the largest
/// agent under `pacer`.
struct FrameworkInfoView: Encodable, Sendable {
    struct Extra: Encodable, Sendable {
        /// The leadership term (nil without an election).
        var epoch: Int64?
        /// The largest agent known, against which specs are checked (nil until one registers).
        var largestAgent: Resources?
    }
    var leader: String
    var epoch: Int64?
    var frameworkId: String?
    var largestAgent: Resources?
    var masters: [String]
    var port: Int
    var settings: AppsSettings
    var store: String

    func with(frameworkId: String?, largestAgent: Resources?) -> FrameworkInfoView {
        var v = self
        v.frameworkId = frameworkId
        v.largestAgent = largestAgent
        return v
    }

    private struct Base: Encodable {
        var name = "pacer"
        var version = "1.10.0"
        var buildref = "pacer-0.1.0"
        var elected = true
        var leader: String
        var frameworkId: String?
        var marathon_config: MarathonConfig
        var zookeeper_config: ZooKeeperConfig
        var event_subscriber = EventSubscriber()
        var http_config: HTTPConfig
    }
    private struct EventSubscriber: Encodable {
        var type = "http_callback"
        var http_endpoints: [String] = []
    }
    private struct HTTPConfig: Encodable {
        var http_port: Int
        var https_port = 8443
    }
    private struct ZooKeeperConfig: Encodable {
        var zk: String
        var zk_compression = false
        var zk_compression_threshold = 65536
        var zk_connection_timeout = 10000
        var zk_max_node_size = 1_024_000
        var zk_max_versions = 50
        var zk_session_timeout = 10000
        var zk_timeout = 10000
    }
    private struct MarathonConfig: Encodable {
        var access_control_allow_origin: [String] = []
        var checkpoint = true
        var decline_offer_duration: Int
        var default_network_name = ""
        var env_vars_prefix = ""
        var executor = "//cmd"
        var failover_timeout = 604800
        var features: [String] = []
        var framework_name = "pacer"
        var ha: Bool
        var hostname: String
        var launch_token = 100
        var launch_token_refresh_interval = 30000
        var leader_proxy_connection_timeout_ms = 500
        var leader_proxy_read_timeout_ms = 10000
        var local_port_max: Int
        var local_port_min: Int
        var master: String
        var max_instances_per_offer = 5000
        var mesos_bridge_name = ""
        var mesos_heartbeat_failure_threshold = 3
        var mesos_heartbeat_interval = 15000
        var mesos_leader_ui_url: String
        var mesos_role = "*"
        var mesos_user = "nobody"
        var min_revive_offers_interval: Int
        var offer_matching_timeout = 3000
        var on_elected_prepare_timeout = 180000
        var reconciliation_initial_delay = 15000
        var reconciliation_interval: Int
        var scale_apps_initial_delay = 15000
        var scale_apps_interval = 300000
        var store_cache = true
        var task_launch_confirm_timeout: Int
        var task_launch_timeout: Int
        var task_lost_expunge_initial_delay = 300000
        var task_lost_expunge_interval = 30000
        var task_reservation_timeout = 20000
        var webui_url: String
    }

    func encode(to encoder: any Encoder) throws {
        let ms = { (d: Duration) in Int(d.seconds * 1000) }
        let host = String(leader.split(separator: ":").first ?? "127.0.0.1")
        let config = MarathonConfig(
            decline_offer_duration: ms(settings.declineRefusal), ha: epoch != nil, hostname: host,
            local_port_max: settings.servicePorts.upperBound, local_port_min: settings.servicePorts.lowerBound,
            master: masters.joined(separator: ","), mesos_leader_ui_url: masters.first ?? "",
            min_revive_offers_interval: ms(settings.revive),
            reconciliation_interval: ms(settings.reconcileInterval),
            task_launch_confirm_timeout: ms(settings.launchConfirm),
            task_launch_timeout: ms(settings.launchTimeout), webui_url: "http://\(leader)")
        let base = Base(
            leader: leader, frameworkId: frameworkId, marathon_config: config, zookeeper_config: ZooKeeperConfig(zk: store),
            http_config: HTTPConfig(http_port: port))
        try PacerExtended(base, pacer: Extra(epoch: epoch, largestAgent: largestAgent)).encode(to: encoder)
    }
}
